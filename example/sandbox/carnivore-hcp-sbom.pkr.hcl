# node-carnivore paired with Packer's own hcp-sbom provisioner (Packer 1.12
# and later; checked with 1.16.0): after node-carnivore writes the image's
# CycloneDX SBOM on the image, hcp-sbom downloads it over the communicator,
# checks that it parses as CycloneDX (or SPDX), keeps a copy at
# `destination` and attaches it to the build, which sends it to HCP Packer
# only when the build publishes to an HCP Packer registry
# (hcp_packer_registry or HCP_PACKER_REGISTRY). Without one, nothing leaves
# the machine: this template needs no HCP account. The e2e tests run it
# against a sandbox Debian that example/sandbox/primal.pkr.hcl provisioned.
packer {
  required_version = ">= 1.12.0"
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

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "ssh_private_key_file" {
  type = string
}

variable "npm_registry" {
  type    = string
  default = ""
}

variable "https_proxy" {
  type    = string
  default = ""
}

variable "no_proxy" {
  type    = string
  default = ""
}

variable "sbom_destination" {
  type        = string
  default     = "example-production.cdx.json"
  description = "Where hcp-sbom keeps its copy of the image's SBOM on this machine."
}

source "null" "debian" {
  ssh_host             = var.host
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "2m"
}

build {
  sources = ["source.null.debian"]

  provisioner "node-carnivore" {
    app_name     = "example"
    environment  = "production"
    server_name  = ["example.test", "www.example.test"]
    source       = "example/app"
    env_file     = "example/env/production.json"
    npm_registry = var.npm_registry
    http_proxy   = var.https_proxy
    https_proxy  = var.https_proxy
    no_proxy     = var.no_proxy
    health_path  = "/healthz"
  }

  # node-carnivore's SBOM is at /usr/share/node-carnivore/<app_name>-<environment>.cdx.json.
  provisioner "hcp-sbom" {
    source      = "/usr/share/node-carnivore/example-production.cdx.json"
    destination = var.sbom_destination
  }
}
