# The arm64 tier's cheapest real form (TestVMARM64): node-primal then
# node-carnivore in one build, on a VM the test has booted (Packer's null
# builder over SSH on the forward QEMU gives it on 127.0.0.1), with no image
# written: one boot instead of the VM chain's four.
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

variable "ssh_port" {
  type = number
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "ssh_private_key_file" {
  type = string
}

variable "packages" {
  type        = list(string)
  description = "node-primal's packages: fewer than its defaults, what the app needs."
}

variable "node_version" {
  type = string
}

variable "node_mirror" {
  type = string
}

variable "node_release_keys" {
  type = list(string)
}

variable "ca_certificates" {
  type    = list(string)
  default = []
}

variable "app_dir" {
  type        = string
  description = "The app: its package.json and lockfile are precached by node-primal, then node-carnivore bakes it."
}

variable "npm_registry" {
  type = string
}

variable "npm_token" {
  type      = string
  sensitive = true
}

source "null" "vm" {
  ssh_host             = "127.0.0.1"
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "5m"
}

build {
  sources = ["source.null.vm"]

  provisioner "node-primal" {
    dpkg_lock_timeout = "5m"
    packages          = var.packages
    node_version      = var.node_version
    node_mirror       = var.node_mirror
    node_release_keys = var.node_release_keys
    ca_certificates   = var.ca_certificates
    package_json      = "${var.app_dir}/package.json"
    npm_registry      = var.npm_registry
    npm_token         = var.npm_token
  }

  provisioner "node-carnivore" {
    app_name       = "example"
    environment    = "production"
    server_name    = ["example.test"]
    source         = var.app_dir
    env_file       = "example/env/production.json"
    health_path    = "/healthz"
    health_timeout = "180s"
  }
}
