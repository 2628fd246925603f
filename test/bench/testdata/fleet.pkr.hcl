# Four sandbox targets in one packer build (test/bench's fleet benchmark):
# node-primal then node-carnivore on each; Packer runs the four builds in
# parallel (or one after another with -parallel-builds=1). Each target's
# settings are maps keyed by its source name, t0 … t3: its address, key,
# Node.js mirror (each test mirror signs with a key of its own) and proxy.
packer {
  required_plugins {
    node = {
      source  = "github.com/nodebake/node"
      version = ">= 0.1.0"
    }
  }
}

variable "hosts" { type = map(string) }
variable "keys" { type = map(string) }
variable "mirrors" { type = map(string) }
variable "proxies" { type = map(string) }
variable "no_proxies" { type = map(string) }
variable "node_release_keys" { type = map(string) }
variable "node_version" { type = string }

source "null" "target" {
  ssh_username = "admin"
  ssh_timeout  = "2m"
}

build {
  source "null.target" {
    name                 = "t0"
    ssh_host             = var.hosts["t0"]
    ssh_private_key_file = var.keys["t0"]
  }
  source "null.target" {
    name                 = "t1"
    ssh_host             = var.hosts["t1"]
    ssh_private_key_file = var.keys["t1"]
  }
  source "null.target" {
    name                 = "t2"
    ssh_host             = var.hosts["t2"]
    ssh_private_key_file = var.keys["t2"]
  }
  source "null.target" {
    name                 = "t3"
    ssh_host             = var.hosts["t3"]
    ssh_private_key_file = var.keys["t3"]
  }

  provisioner "node-primal" {
    dpkg_lock_timeout = "5m"
    node_version      = var.node_version
    node_mirror       = var.mirrors[source.name]
    node_release_keys = [var.node_release_keys[source.name]]
    http_proxy        = var.proxies[source.name]
    https_proxy       = var.proxies[source.name]
    no_proxy          = var.no_proxies[source.name]
    package_json      = "example/app/package.json"
  }

  provisioner "node-carnivore" {
    app_name       = "example"
    environment    = "production"
    server_name    = ["example.test"]
    source         = "example/app"
    entrypoint     = "cluster.js"
    env_file       = "example/env/production.json"
    http_proxy     = var.proxies[source.name]
    https_proxy    = var.proxies[source.name]
    no_proxy       = var.no_proxies[source.name]
    health_path    = "/healthz"
    health_timeout = "60s"
  }
}
