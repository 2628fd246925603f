# node-primal for the fault tier (test/e2e/faults_test.go): the example
# sandbox template with what the faults need on top: Packer reaches SSH
# through a port of Toxiproxy's, the provisioner may carry Packer's own
# `timeout`, and extra packages make a rerun call apt again.
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

variable "host" {
  type = string
}

variable "ssh_port" {
  type    = number
  default = 22
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "ssh_private_key_file" {
  type = string
}

variable "node_version" {
  type    = string
  default = "22"
}

variable "node_mirror" {
  type = string
}

variable "https_proxy" {
  type    = string
  default = ""
}

variable "no_proxy" {
  type    = string
  default = ""
}

variable "ca_certificates" {
  type    = list(string)
  default = []
}

variable "package_json" {
  type    = string
  default = "example/app/package.json"
}

variable "extra_packages" {
  type    = list(string)
  default = []
}

variable "node_release_keys" {
  type        = list(string)
  default     = []
  description = "The test mirror's signing key (an armored public key file)."
}

variable "timeout" {
  type        = string
  default     = ""
  description = "Packer's per-provisioner timeout (\"\" for none)."
}

source "null" "debian" {
  ssh_host             = var.host
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "2m"
}

build {
  sources = ["source.null.debian"]

  provisioner "node-primal" {
    timeout           = var.timeout
    dpkg_lock_timeout = "5m"
    node_version      = var.node_version
    node_mirror       = var.node_mirror
    http_proxy        = var.https_proxy
    https_proxy       = var.https_proxy
    no_proxy          = var.no_proxy
    ca_certificates   = var.ca_certificates
    package_json      = var.package_json
    extra_packages    = var.extra_packages
    node_release_keys = var.node_release_keys
  }
}
