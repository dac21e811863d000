import '@mlp/proto/polyfill'
