apt_get update
