'use strict';
// The seed always ran its app under cluster: one worker per CPU, replaced
// when one dies.
const cluster = require('cluster');
const os = require('os');

if (cluster.isPrimary) {
  const workers = Math.max(1, Math.min(os.cpus().length, 4));
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code) => {
    console.error(`worker ${w.process.pid} exited (${code}); starting another`);
    cluster.fork();
  });
} else {
  const app = require('./app');
  const port = Number(process.env.PORT || 3000);
  app.listen(port, '127.0.0.1');
}
