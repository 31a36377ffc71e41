// A Node `ws` echo server, for the comparison rows of the benchmark.
// Runs only where Node and the `ws` module are installed (Debian: node-ws,
// which lives in /usr/share/nodejs: run with NODE_PATH=/usr/share/nodejs).
//   node bench/node_ws_echo.js [--port N] [--address A] [--tls-cert F --tls-key F] [--deflate]
//   (default 127.0.0.1:9227; with a certificate and key, wss over Node's https server)
// --deflate: permessage-deflate on, every message compressed (threshold 0), ws's zlib defaults.
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

let port = 9227;
let host = '127.0.0.1';
let cert = null;
let key = null;
let deflate = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i]);
  else if (args[i] === '--address' && i + 1 < args.length) host = args[++i];
  else if (args[i] === '--tls-cert' && i + 1 < args.length) cert = args[++i];
  else if (args[i] === '--tls-key' && i + 1 < args.length) key = args[++i];
  else if (args[i] === '--deflate') deflate = true;
  else {
    console.error('usage: node node_ws_echo.js [--port N] [--address A] [--tls-cert F --tls-key F] [--deflate]');
    process.exit(2);
  }
}

// No compression unless asked (the other rows measure framing, not zlib); 64 MiB messages for the
// 16 MiB row.
const opts = { perMessageDeflate: deflate ? { threshold: 0 } : false, maxPayload: 64 * 1024 * 1024 };
let server = null;
if (cert && key) {
  server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) });
  opts.server = server;
} else {
  opts.host = host;
  opts.port = port;
}
const wss = new WebSocketServer(opts);
if (server) {
  server.on('error', (e) => {
    console.error(`node_ws_echo: ${e.message}`);
    process.exit(1);
  });
  server.listen(port, host);
}
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('error', (e) => {
  console.error(`node_ws_echo: ${e.message}`);
  process.exit(1);
});
const stop = () => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => (server ? server.close(() => process.exit(0)) : process.exit(0)));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
