# node-primal against an existing Debian machine reached over SSH (Packer's
# built-in null builder). `make demo` and the e2e tests run this template
# against a disposable sandbox Debian; point it at any Debian host you own.
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

variable "host" {
  type        = string
  description = "Address of the Debian machine to provision."
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "ssh_private_key_file" {
  type = string
}

source "null" "debian" {
  ssh_host             = var.host
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "2m"
}

build {
  sources = ["source.null.debian"]

  provisioner "node-primal" {
    # instance_user defaults to ssh_username.
    dpkg_lock_timeout = "5m"
  }
}
