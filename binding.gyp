{
  "targets": [
    {
      "target_name": "agentsight",
      "sources": [
        "native/addon.cc",
        "native/bpf_object.cc",
        "native/ring_reader.cc",
        "native/errors.cc",
        "native/libbpf_log.cc",
        "<(SHARED_INTERMEDIATE_DIR)/bpf_objects.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz", "-pthread"],
      "actions": [
        {
          "action_name": "build_bpf",
          "inputs": [
            "scripts/build-bpf.js",
            "<!@(node -p \"require('fs').readdirSync('bpf').filter(f => /\\.(c|h)$/.test(f)).map(f => 'bpf/' + f).join(' ')\")"
          ],
          "outputs": ["<(SHARED_INTERMEDIATE_DIR)/bpf_objects.cc"],
          "action": ["node", "scripts/build-bpf.js", "<(SHARED_INTERMEDIATE_DIR)"],
          "message": "Compiling eBPF objects"
        }
      ]
    }
  ]
}
