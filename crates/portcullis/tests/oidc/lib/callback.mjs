// The relying party's side of the redirect: a tiny HTTP server on the
// loopback port the harness registered in the clients' redirect URIs. It
// answers every request with a page naming what it received, and keeps the
// URLs, so a script sees exactly where the browser was sent.

import { createServer } from 'node:http'

import { context } from './context.mjs'

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * Starts the server on the harness's `callback_port`; `pages` maps a path
 * to HTML served there instead of the report page.
 */
export async function startCallbackServer(pages = {}) {
  const port = context.callback_port
  const origin = `http://127.0.0.1:${port}`
  const received = []
  const server = createServer((request, response) => {
    const url = new URL(request.url, origin)
    received.push(url)
    const page =
      pages[url.pathname] ??
      `<!doctype html><html lang="en"><head><title>Relying party</title></head>` +
        `<body><h1>Back at the relying party</h1><p>${escapeHtml(url.pathname)}</p>` +
        `<pre>${escapeHtml([...url.searchParams].map(([k, v]) => `${k} = ${v}`).join('\n'))}</pre></body></html>`
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    response.end(page)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    origin,
    url: (path) => `${origin}${path}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve)
        server.closeAllConnections()
      }),
  }
}
