// keys.js asks the npm registry in AUDIT_REGISTRY whether it publishes the
// keys npm verifies registry signatures with (GET <registry>/-/npm/v1/keys),
// the way npm itself asks: through the build's proxy, with the npmrc's
// token for that registry, trusting NODE_EXTRA_CA_CERTS. It prints one line
// and exits 0 when the registry serves keys ("N keys"), 3 when it answers
// that it has none ("answered 404"), 1 when it cannot tell (the reason on
// stderr). Each attempt is bounded; failures of the network and 5xx
// answers are retried with a growing pause. It never prints the token.
'use strict'
const fs = require('fs')
const http = require('http')
const https = require('https')
const os = require('os')
const path = require('path')
const tls = require('tls')

const TIMEOUT_MS = 20000
const ATTEMPTS = 3

const registry = process.env.AUDIT_REGISTRY || ''
const keysURL = new URL('-/npm/v1/keys', registry.endsWith('/') ? registry : registry + '/')

const env = (...names) => names.map(n => process.env[n]).find(v => v) || ''

// token is the _authToken the npmrc npm uses (npm_config_userconfig, else
// ~/.npmrc) gives this registry: the longest "//host/path/:_authToken"
// prefix of the keys URL, ${VAR} expanded as npm does.
function token () {
  const file = env('npm_config_userconfig', 'NPM_CONFIG_USERCONFIG') || path.join(os.homedir(), '.npmrc')
  let text
  try { text = fs.readFileSync(file, 'utf8') } catch { return '' }
  const want = '//' + keysURL.host + keysURL.pathname
  let best = ''
  let value = ''
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(\/\/[^=\s]+):_authToken\s*=\s*(.*?)\s*$/.exec(line)
    if (m && want.startsWith(m[1].endsWith('/') ? m[1] : m[1] + '/') && m[1].length > best.length) {
      best = m[1]
      value = m[2].replace(/^"(.*)"$/, '$1').replace(/\$\{([^}]+)\}/g, (_, v) => process.env[v] || '')
    }
  }
  return value
}

// proxyFor is the proxy for u from the environment, or null (no_proxy).
function proxyFor (u) {
  const p = u.protocol === 'https:'
    ? env('https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY')
    : env('http_proxy', 'HTTP_PROXY')
  if (!p) return null
  for (let n of env('no_proxy', 'NO_PROXY').split(',')) {
    n = n.trim().toLowerCase().replace(/^\*?\./, '')
    if (!n) continue
    const [h, port] = n.split(':')
    if (n === '*' || ((u.hostname === h || u.hostname.endsWith('.' + h)) && (!port || port === (u.port || (u.protocol === 'https:' ? '443' : '80'))))) return null
  }
  return new URL(p)
}

function redact (u) {
  const c = new URL(u)
  if (c.username || c.password) { c.username = '***'; c.password = '' }
  return c.href
}

// get fetches u once: { status, body }.
function get (u, headers) {
  return new Promise((resolve, reject) => {
    const proxy = proxyFor(u)
    const proxyHeaders = {}
    if (proxy && (proxy.username || proxy.password)) {
      proxyHeaders['Proxy-Authorization'] = 'Basic ' + Buffer.from(decodeURIComponent(proxy.username) + ':' + decodeURIComponent(proxy.password)).toString('base64')
    }
    const onResponse = res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { if (body.length < 1 << 20) body += c })
      res.on('end', () => resolve({ status: res.statusCode, body }))
      res.on('error', reject)
    }
    const bound = req => {
      req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)))
      req.on('error', reject)
      return req
    }
    if (!proxy) {
      bound((u.protocol === 'https:' ? https : http).get(u, { headers }, onResponse))
    } else if (u.protocol === 'http:') {
      bound(http.get({ host: proxy.hostname, port: proxy.port || 80, path: u.href, headers: { ...headers, ...proxyHeaders, host: u.host } }, onResponse))
    } else {
      const target = `${u.hostname}:${u.port || 443}`
      const c = bound(http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: target, headers: { ...proxyHeaders, host: target } }))
      c.on('connect', (res, socket) => {
        c.setTimeout(0) // the tunnel is the TLS request's now, with its own bound
        if (res.statusCode !== 200) {
          socket.destroy()
          reject(new Error(`the proxy ${redact(proxy)} refused CONNECT ${target}: ${res.statusCode}`))
          return
        }
        // No agent: an agent would open its own connection, not use this one.
        bound(https.get(u, { headers, createConnection: () => tls.connect({ socket, host: u.hostname }) }, onResponse))
      })
      c.end()
    }
  })
}

async function main () {
  const headers = { accept: 'application/json', 'user-agent': 'packer-plugin-node (npm registry keys probe)' }
  const t = token()
  if (t) headers.authorization = 'Bearer ' + t
  let last = ''
  for (let i = 1; i <= ATTEMPTS; i++) {
    try {
      const { status, body } = await get(keysURL, headers)
      if (status === 200) {
        let keys = []
        try { keys = JSON.parse(body).keys || [] } catch { throw new Error('answered 200 with a body that is not JSON') }
        if (!Array.isArray(keys) || keys.length === 0) {
          console.log('answered 200 with no keys')
          process.exit(3)
        }
        console.log(`${keys.length} key${keys.length > 1 ? 's' : ''}: ${keys.map(k => k.keyid).join(', ')}`)
        process.exit(0)
      }
      if (status === 404 || status === 400) {
        // What npm takes for "this registry has no keys".
        console.log(`GET ${redact(keysURL)} answered ${status}`)
        process.exit(3)
      }
      last = `GET ${redact(keysURL)} answered ${status}`
      if (status < 500 && status !== 429) break
    } catch (e) {
      last = `GET ${redact(keysURL)}: ${e.message}`
    }
    if (i < ATTEMPTS) await new Promise(resolve => setTimeout(resolve, 2000 * i))
  }
  console.error(`${last} (${ATTEMPTS} attempts at most, ${TIMEOUT_MS / 1000}s each)`)
  process.exit(1)
}

main()
