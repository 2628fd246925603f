# TestRelease's build: all three components of the released plugin in one
# template, as a user would write it. node-ami asks the (fake) EC2 for the
# newest primal image; node-primal (Debian's Node.js, the example app's
# dependencies precached) and node-carnivore (the example app, from the
# precache) provision a Debian machine over SSH with Packer's null builder.
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

variable "ssh_username" {
  type = string
}

variable "ssh_private_key_file" {
  type = string
}

variable "https_proxy" {
  type = string
}

variable "no_proxy" {
  type = string
}

variable "ca_certificates" {
  type = list(string)
}

data "node-ami" "primal" {
  app_name     = "example"
  region       = "us-east-1"
  architecture = "x86_64"
}

# An exact version reads no mirror: the fingerprint comes from the settings alone.
data "node-fingerprint" "app" {
  node_version = "22.12.0"
  packages     = ["curl"]
}

source "null" "debian" {
  ssh_host             = var.host
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "2m"
}

build {
  sources = ["source.null.debian"]

  provisioner "shell-local" {
    inline = [
      "echo 'node-ami found ${data.node-ami.primal.id} (${data.node-ami.primal.name})'",
      "echo 'node-fingerprint says ${data.node-fingerprint.app.fingerprint}'",
    ]
  }

  provisioner "node-primal" {
    dpkg_lock_timeout = "5m"
    node_installer    = "distro"
    http_proxy        = var.https_proxy
    https_proxy       = var.https_proxy
    no_proxy          = var.no_proxy
    ca_certificates   = var.ca_certificates
    package_json      = "example/app/package.json"
  }

  provisioner "node-carnivore" {
    app_name    = "example"
    environment = "production"
    server_name = ["example.test", "www.example.test"]
    source      = "example/app"
    entrypoint  = "cluster.js"
    env_file    = "example/env/production.json"
    http_proxy  = var.https_proxy
    https_proxy = var.https_proxy
    no_proxy    = var.no_proxy
    health_path = "/healthz"
  }
}
