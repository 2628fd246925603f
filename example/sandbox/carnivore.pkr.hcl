# node-carnivore against a Debian machine that node-primal provisioned,
# reached over SSH (Packer's built-in null builder). The e2e tests run this
# template against a sandbox Debian after example/sandbox/primal.pkr.hcl.
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
  type    = string
  default = "admin"
}

variable "ssh_port" {
  type    = number
  default = 22
}

variable "ssh_private_key_file" {
  type = string
}

variable "source_dir" {
  type        = string
  default     = "example/app"
  description = "The built app to upload."
}

variable "entrypoint" {
  type    = string
  default = "cluster.js"
}

variable "env_file" {
  type      = string
  default   = "example/env/production.json"
  sensitive = true
}

variable "site_conf" {
  type    = string
  default = ""
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

variable "service_manager" {
  type    = string
  default = "auto"
}

variable "health_timeout" {
  type    = string
  default = "60s"
}

variable "sbom_output" {
  type        = string
  default     = ""
  description = "Where to write the image's SBOM on this machine too; empty: only on the image."
}

variable "require_precache_hit" {
  type    = bool
  default = false
}

variable "nginx_port" {
  type        = number
  default     = 8080
  description = "Must be node-primal's: the build fails, naming it, when the primal image says otherwise."
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
    app_name        = "example"
    environment     = "production"
    server_name     = ["example.test", "www.example.test"]
    source          = var.source_dir
    entrypoint      = var.entrypoint
    env_file        = var.env_file
    site_conf       = var.site_conf
    npm_registry    = var.npm_registry
    http_proxy      = var.https_proxy
    https_proxy     = var.https_proxy
    no_proxy        = var.no_proxy
    service_manager = var.service_manager
    nginx_port      = var.nginx_port
    health_path     = "/healthz"
    health_timeout  = var.health_timeout
    sbom_output     = var.sbom_output

    require_precache_hit = var.require_precache_hit
  }
}
