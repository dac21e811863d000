export * from './api.js'
export * from './errors.js'
export * from './wire.js'
export * from './home.js'
