export { ApiClient, notRunning, type CallOptions } from './client.js'
export { BaseCommand } from './base-command.js'
