install -d -m 0755 -o {{q .User}} -g adm {{q .Dir}}
find {{q .Dir}} -mindepth 1 -maxdepth 1 -type f -exec chown {{q .User}} {} +
ls -ld {{q .Dir}}
