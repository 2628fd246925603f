# Packer's own file provisioner uploading an app directory: the baseline the
# benchmark in test/bench compares node-carnivore's streamed upload with.
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

variable "source_dir" {
  type = string
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
    inline = ["rm -rf /tmp/upload-file-baseline", "mkdir -p /tmp/upload-file-baseline"]
  }

  provisioner "file" {
    source      = "${var.source_dir}/"
    destination = "/tmp/upload-file-baseline"
  }
}
