# node-carnivore for the fault tier (test/e2e/faults_test.go): the example
# sandbox template with Packer reaching SSH through a port of Toxiproxy's.
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

variable "source_dir" {
  type    = string
  default = "example/app"
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

source "null" "debian" {
  ssh_host             = var.host
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "2m"
}

build {
  sources = ["source.null.debian"]

  provisioner "node-carnivore" {
    app_name       = "example"
    environment    = "production"
    server_name    = ["example.test", "www.example.test"]
    source         = var.source_dir
    entrypoint     = "cluster.js"
    env_file       = "example/env/production.json"
    npm_registry   = var.npm_registry
    http_proxy     = var.https_proxy
    https_proxy    = var.https_proxy
    no_proxy       = var.no_proxy
    health_path    = "/healthz"
    health_timeout = "60s"
  }
}
