{
  "targets": [
    {
      "target_name": "mlp_native",
      "sources": ["mlp_native.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
