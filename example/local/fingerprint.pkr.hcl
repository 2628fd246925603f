# The fingerprint of the primal image example/local/primal.pkr.hcl makes for
# the same settings, computed on this host by the node-fingerprint data
# source, with no machine started. `make demo` keeps each primal image under
# its fingerprint and builds one only when none has it:
#
#   PACKER_PLUGIN_PATH=$PWD/.packer.d/plugins .tools/bin/packer build \
#     -var node_version=22.23.3 -var package_json=example/app/package.json \
#     example/local/fingerprint.pkr.hcl
#
# node_mirror is the mirror as this host reaches it (primal.pkr.hcl's guest
# reaches the host's loopback as 10.0.2.2); an exact node_version reads no
# mirror at all.
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

variable "node_version" {
  type        = string
  default     = null
  description = "As primal.pkr.hcl's: exact, a major, or lts; null: the default (lts)."
}

variable "node_mirror" {
  type        = string
  default     = null
  description = "The Node.js mirror as this host reaches it; null: the default."
}

variable "package_json" {
  type        = string
  default     = null
  description = "As primal.pkr.hcl's: the app's package.json."
}

data "node-fingerprint" "app" {
  node_version = var.node_version
  node_mirror  = var.node_mirror
  package_json = var.package_json
}

source "null" "fingerprint" {
  communicator = "none"
}

build {
  sources = ["source.null.fingerprint"]

  provisioner "shell-local" {
    inline = ["echo 'node-fingerprint: fingerprint=${data.node-fingerprint.app.fingerprint} node_version=${data.node-fingerprint.app.node_version}'"]
  }
}
