# node-primal against an existing Debian machine reached over SSH (Packer's
# built-in null builder). `make demo-sandbox` and the e2e tests run this template
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

variable "node_installer" {
  type    = string
  default = "tarball"
}

variable "node_version" {
  type    = string
  default = "22"
}

variable "node_mirror" {
  type        = string
  default     = "https://nodejs.org/dist"
  description = "A mirror in nodejs.org's dist layout; the tests serve one built from the npm registry."
}

variable "firewall_backend" {
  type    = string
  default = "auto"
}

variable "https_proxy" {
  type    = string
  default = ""
}

variable "no_proxy" {
  type    = string
  default = ""
}

variable "node_release_keys" {
  type        = list(string)
  default     = []
  description = "Armored public keys (local files) trusted to sign SHASUMS256.txt besides the Node.js release keys: the key of a mirror that re-signs, like the tests' mirror."
}

variable "ca_certificates" {
  type    = list(string)
  default = []
}

variable "instance_user" {
  type        = string
  default     = ""
  description = "The user the app runs as; empty for node-primal's default, a system account named node."
}

variable "package_json" {
  type    = string
  default = "example/app/package.json"
}

variable "npm_registry" {
  type        = string
  default     = ""
  description = "The registry the precache installs from; empty: npm's own setting on the machine."
}

variable "npm_token" {
  type        = string
  default     = ""
  sensitive   = true
  description = "A token for npm_registry, on a tmpfs for the install only."
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
    # The app's account: by default "node", made by node-primal.
    instance_user     = var.instance_user
    dpkg_lock_timeout = "5m"
    node_installer    = var.node_installer
    node_version      = var.node_installer == "distro" ? "" : var.node_version
    node_mirror       = var.node_mirror
    node_release_keys = var.node_release_keys
    firewall_backend  = var.firewall_backend
    http_proxy        = var.https_proxy
    https_proxy       = var.https_proxy
    no_proxy          = var.no_proxy
    ca_certificates   = var.ca_certificates
    package_json      = var.package_json
    npm_registry      = var.npm_registry
    npm_token         = var.npm_token
  }
}
