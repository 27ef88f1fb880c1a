{
  "targets": [
    {
      "target_name": "ari_udp",
      "sources": ["udp_batch.c", "dsp.c", "stream.c", "player.c", "file_batch.c", "block_pool.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
