# The CI recipe's look-up, on the Packer host: node-fingerprint computes the
# fingerprint node-primal records for the same settings, and node-ami finds
# the primal image tagged with it (the e2e tests answer with a fake EC2).
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

variable "node_version" {
  type = string
}

variable "node_mirror" {
  type = string
}

variable "package_json" {
  type    = string
  default = "example/app/package.json"
}

variable "extra_packages" {
  type    = list(string)
  default = []
}

data "node-fingerprint" "app" {
  node_version   = var.node_version
  node_mirror    = var.node_mirror
  package_json   = var.package_json
  extra_packages = var.extra_packages
}

data "node-ami" "primal" {
  app_name          = "ponyfoo"
  region            = "us-east-1"
  fingerprint       = data.node-fingerprint.app.fingerprint
  fingerprint_parts = data.node-fingerprint.app.parts
}

source "null" "lookup" {
  communicator = "none"
}

build {
  sources = ["source.null.lookup"]

  provisioner "shell-local" {
    inline = ["echo 'lookup: fingerprint=${data.node-fingerprint.app.fingerprint} node=${data.node-fingerprint.app.node_version} ami=${data.node-ami.primal.id}'"]
  }
}
