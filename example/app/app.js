'use strict';
// The example app: one page and a health endpoint. Static files under
// .bin/public are served by nginx in front of it, not by Express.
const express = require('express');

const app = express();
const port = Number(process.env.PORT || 3000);

app.get('/healthz', (req, res) => res.json({ ok: true }));
app.get('/', (req, res) => {
  res.type('text').send(`hello from example-app (NODE_ENV=${process.env.NODE_ENV}, pid ${process.pid})\n`);
});

module.exports = app;
if (require.main === module) {
  app.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
}
