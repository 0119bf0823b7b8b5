{
  "variables": {
    # static (default): libbpf built from its pinned source by scripts/libbpf.js and linked in with
    # its symbols hidden; system: the system's shared libbpf (AGENTSIGHT_LIBBPF=system, >= 1.3).
    "libbpf%": "<!(node scripts/libbpf.js --mode)"
  },
  "targets": [
    {
      "target_name": "libbpf",
      "type": "none",
      "conditions": [
        ["libbpf=='static'", {
          "actions": [
            {
              "action_name": "build_libbpf",
              "inputs": ["scripts/libbpf.js", "scripts/apt-sources.js"],
              "outputs": [
                "<(SHARED_INTERMEDIATE_DIR)/libbpf/libbpf.a",
                "<(SHARED_INTERMEDIATE_DIR)/libbpf/include/bpf/libbpf.h"
              ],
              "action": ["node", "scripts/libbpf.js", "<(SHARED_INTERMEDIATE_DIR)/libbpf"],
              "message": "Building libbpf (static, from its pinned source)"
            }
          ]
        }]
      ]
    },
    {
      "target_name": "agentsight",
      "dependencies": ["libbpf"],
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
      "conditions": [
        ["libbpf=='static'", {
          "variables": { "bpf_include_args": ["--include", "<(SHARED_INTERMEDIATE_DIR)/libbpf/include"] },
          "include_dirs": ["<(SHARED_INTERMEDIATE_DIR)/libbpf/include"],
          "libraries": ["<(SHARED_INTERMEDIATE_DIR)/libbpf/libbpf.a", "-lelf", "-lz", "-pthread"],
          # libbpf's symbols stay inside the addon: nothing else in the process binds to them
          "ldflags": ["-Wl,--exclude-libs,ALL"]
        }, {
          "variables": { "bpf_include_args": [] },
          "libraries": ["-lbpf", "-lelf", "-lz", "-pthread"]
        }]
      ],
      "actions": [
        {
          "action_name": "build_bpf",
          "inputs": [
            "scripts/build-bpf.js",
            "<!@(node -p \"require('fs').readdirSync('bpf').filter(f => /\\.(c|h)$/.test(f)).map(f => 'bpf/' + f).join(' ')\")"
          ],
          "outputs": ["<(SHARED_INTERMEDIATE_DIR)/bpf_objects.cc"],
          "action": ["node", "scripts/build-bpf.js", "<(SHARED_INTERMEDIATE_DIR)", "<@(bpf_include_args)"],
          "message": "Compiling eBPF objects"
        }
      ]
    }
  ]
}
