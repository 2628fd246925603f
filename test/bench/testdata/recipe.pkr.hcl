# The baseline of test/bench: the article's primal recipe (recipe.sh) run
# by Packer's built-in provisioners on a sandbox Debian, with the inputs
# node-primal gets in the same run: the app's package.json and lockfile,
# the same Node.js tarball from the same mirror.
variable "host" {
  type = string
}

variable "ssh_port" {
  type    = number
  default = 22
}

variable "ssh_private_key_file" {
  type = string
}

variable "node_url" {
  type        = string
  description = "The Node.js tarball node-primal installs, on the test mirror."
}

variable "no_proxy" {
  type        = string
  description = "The mirror's host, which the target reaches directly (node-primal gets the same)."
}

variable "app_dir" {
  type    = string
  default = "example/app"
}

source "null" "debian" {
  ssh_host             = var.host
  ssh_port             = var.ssh_port
  ssh_username         = "admin"
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "2m"
}

build {
  sources = ["source.null.debian"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/app"]
  }

  provisioner "file" {
    sources     = ["${var.app_dir}/package.json", "${var.app_dir}/package-lock.json"]
    destination = "/tmp/app/"
  }

  provisioner "shell" {
    environment_vars = ["INSTANCE_USER=admin", "NODE_URL=${var.node_url}", "no_proxy=${var.no_proxy}"]
    script           = "test/bench/testdata/recipe.sh"
  }
}
