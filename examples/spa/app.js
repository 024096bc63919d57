// The bookstore's single-page app: signs in with Portcullis by authorization
// code + PKCE (OAuth 2.1, OpenID Connect) through oauth4webapi, keeps the
// tokens in memory only, refreshes them (with rotation) before they expire,
// calls the bookstore API with the access token, and signs out by revoking
// its refresh token and ending the Portcullis browser session
// (RP-initiated logout).
//
// What survives a reload: the settings (localStorage; no secret among them)
// and, for the one round trip to Portcullis, the PKCE verifier, state and
// nonce of the sign-in under way (sessionStorage). Tokens do not: after a
// reload, "Sign in" is one redirect and back, without a password while the
// Portcullis session lasts.

import * as oauth from './vendor/oauth4webapi.js'
import { defaults, scope } from './config.js'

const SETTINGS_KEY = 'bookstore-spa.settings'
const SIGN_IN_KEY = 'bookstore-spa.sign-in'
const SIGN_OUT_KEY = 'bookstore-spa.sign-out'

/** Refresh this long before the access token expires (at most a quarter of its life). */
const REFRESH_AHEAD_MS = 60_000

/** The tokens, in this variable and nowhere else. */
let tokens = null
let refreshTimer
let refreshing = null
let refreshes = 0

const $ = (id) => document.getElementById(id)

function settings() {
  const stored = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}')
  return { ...defaults, ...stored }
}

/** This page's own URL, which is the redirect URI registered for the app. */
function redirectUri() {
  return new URL('./', window.location.href).href
}

function client() {
  return { client_id: settings().clientId }
}

/** http:// is accepted for a loopback Portcullis only (development). */
function requestOptions(url) {
  const { protocol, hostname } = new URL(url)
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(hostname)
  return { [oauth.allowInsecureRequests]: protocol === 'http:' && loopback }
}

let discovered
/** Portcullis's metadata (its discovery document), fetched once. */
async function authorizationServer() {
  if (!discovered) {
    const issuer = new URL(settings().issuer)
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(issuer) })
    discovered = await oauth.processDiscoveryResponse(issuer, response)
  }
  return discovered
}

function say(text) {
  $('message').textContent = text
  $('error').textContent = ''
}

function complain(text) {
  $('error').textContent = text
}

/** Shows the section for where the user is: setup, signed out, or signed in. */
function render() {
  const configured = Boolean(settings().clientId)
  $('setup').hidden = configured
  $('signed-out').hidden = !configured || tokens !== null
  $('signed-in').hidden = tokens === null
  $('catalogue').hidden = !configured
  if (tokens) {
    $('user-name').textContent = tokens.claims.name ?? tokens.claims.email
    $('user-email').textContent = tokens.claims.email ?? ''
    $('token-expiry').textContent = new Date(tokens.expiresAt).toLocaleTimeString()
    $('token-expiry').dateTime = new Date(tokens.expiresAt).toISOString()
    $('refresh-count').textContent = String(refreshes)
  }
}

function showSetup() {
  const current = settings()
  $('issuer').value = current.issuer
  $('client-id').value = current.clientId
  $('api').value = current.api
  $('setup').hidden = false
  $('signed-out').hidden = true
}

// --- Signing in -----------------------------------------------------------

/** Sends the browser to Portcullis's authorization endpoint. */
async function signIn() {
  const as = await authorizationServer()
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const pending = {
    codeVerifier,
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
  }
  sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify(pending))
  const url = new URL(as.authorization_endpoint)
  url.search = new URLSearchParams({
    client_id: settings().clientId,
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  }).toString()
  window.location.assign(url)
}

/**
 * Back from Portcullis with `?code=…&state=…&iss=…` (or `?error=…`):
 * checks state and iss, exchanges the code with the PKCE verifier, checks
 * the ID token (issuer, audience, nonce, times).
 */
async function completeSignIn(currentUrl) {
  const pending = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) ?? 'null')
  sessionStorage.removeItem(SIGN_IN_KEY)
  // The code leaves the address bar and the history at once.
  window.history.replaceState(null, '', redirectUri())
  if (!pending) {
    throw new Error('This sign-in response does not belong to a sign-in started here.')
  }
  const as = await authorizationServer()
  const parameters = oauth.validateAuthResponse(as, client(), currentUrl, pending.state)
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client(),
    oauth.None(),
    parameters,
    redirectUri(),
    pending.codeVerifier,
    requestOptions(as.token_endpoint),
  )
  const result = await oauth.processAuthorizationCodeResponse(as, client(), response, {
    expectedNonce: pending.nonce,
    requireIdToken: true,
  })
  keep(result, oauth.getValidatedIdTokenClaims(result))
  say('Signed in.')
}

/** Keeps a token response in memory and plans the next refresh. */
function keep(result, claims) {
  tokens = {
    accessToken: result.access_token,
    // Rotation: every refresh returns a new refresh token; the old one is spent.
    refreshToken: result.refresh_token ?? tokens?.refreshToken,
    idToken: result.id_token ?? tokens?.idToken,
    claims: claims ?? tokens?.claims,
    scope: result.scope ?? '',
    expiresAt: Date.now() + (result.expires_in ?? 0) * 1000,
  }
  clearTimeout(refreshTimer)
  const lifetime = tokens.expiresAt - Date.now()
  const ahead = Math.min(REFRESH_AHEAD_MS, lifetime / 4)
  refreshTimer = setTimeout(() => refresh().catch(signedOutBecause), Math.max(lifetime - ahead, 1000))
  render()
}

/** Trades the refresh token for new tokens; one refresh at a time. */
function refresh() {
  refreshing ??= (async () => {
    try {
      const as = await authorizationServer()
      const response = await oauth.refreshTokenGrantRequest(
        as,
        client(),
        oauth.None(),
        tokens.refreshToken,
        requestOptions(as.token_endpoint),
      )
      const result = await oauth.processRefreshTokenResponse(as, client(), response)
      refreshes += 1
      keep(result, result.id_token ? oauth.getValidatedIdTokenClaims(result) : undefined)
    } finally {
      refreshing = null
    }
  })()
  return refreshing
}

/** The session is over (a refresh was refused): back to "Sign in". */
function signedOutBecause(error) {
  forget()
  render()
  complain(`You have been signed out: ${describe(error)}`)
}

function forget() {
  clearTimeout(refreshTimer)
  tokens = null
  refreshes = 0
}

// --- Signing out ----------------------------------------------------------

/**
 * Revokes the refresh token (its session ends, and with it the access
 * token), then sends the browser to Portcullis's end-session endpoint, which
 * ends the browser session there and comes back here.
 */
async function signOut() {
  const as = await authorizationServer()
  const { refreshToken, idToken } = tokens
  forget()
  render()
  const revoked = await oauth.revocationRequest(as, client(), oauth.None(), refreshToken, requestOptions(as.revocation_endpoint))
  await oauth.processRevocationResponse(revoked)
  const state = oauth.generateRandomState()
  sessionStorage.setItem(SIGN_OUT_KEY, state)
  const url = new URL(as.end_session_endpoint)
  url.search = new URLSearchParams({
    id_token_hint: idToken,
    post_logout_redirect_uri: redirectUri(),
    client_id: settings().clientId,
    state,
  }).toString()
  window.location.assign(url)
}

/** Back from Portcullis's logout with `?state=…`. */
function completeSignOut(currentUrl) {
  const expected = sessionStorage.getItem(SIGN_OUT_KEY)
  sessionStorage.removeItem(SIGN_OUT_KEY)
  window.history.replaceState(null, '', redirectUri())
  if (expected && currentUrl.searchParams.get('state') === expected) {
    say('You are signed out.')
  }
}

// --- The bookstore --------------------------------------------------------

/** A request to the bookstore, with the access token when signed in. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = {}
  if (tokens) {
    if (tokens.expiresAt - Date.now() < 5_000) await refresh()
    headers.authorization = `Bearer ${tokens.accessToken}`
  }
  if (body !== undefined) headers['content-type'] = 'application/json'
  return fetch(new URL(path, settings().api), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

function describe(error) {
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
    return `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`
  }
  return error?.message ?? String(error)
}

function element(tag, properties = {}, children = []) {
  const node = Object.assign(document.createElement(tag), properties)
  node.append(...children)
  return node
}

async function showCatalogue() {
  const response = await api('/books')
  if (!response.ok) throw new Error(`the bookstore answered ${response.status}`)
  const books = await response.json()
  $('books').replaceChildren(
    ...books.map((book) => {
      const download = element('button', { type: 'button', id: `download-${book.id}`, textContent: 'Download' })
      download.addEventListener('click', () => downloadBook(book.id).catch((e) => complain(describe(e))))
      const input = element('input', { id: `comment-text-${book.id}`, name: 'text', required: true, maxLength: 500 })
      const form = element('form', { className: 'comment-form', id: `comment-form-${book.id}` }, [
        element('label', { htmlFor: input.id, textContent: `Comment on ${book.title}` }),
        input,
        element('button', { type: 'submit', id: `post-comment-${book.id}`, textContent: 'Comment' }),
      ])
      form.addEventListener('submit', (event) => {
        event.preventDefault()
        postComment(book.id, input).catch((e) => complain(describe(e)))
      })
      return element('li', {}, [
        element('strong', { textContent: book.title }),
        ` by ${book.author} `,
        download,
        element('p', { className: 'download', id: `downloaded-${book.id}` }),
        element('ul', { className: 'comments', id: `comments-${book.id}` }),
        form,
      ])
    }),
  )
  await Promise.all(books.map((book) => showComments(book.id)))
}

async function showComments(bookId) {
  const response = await api(`/books/${bookId}/comments`)
  if (!response.ok) throw new Error(`comments: the bookstore answered ${response.status}`)
  const comments = await response.json()
  $(`comments-${bookId}`).replaceChildren(
    ...comments.map((comment) => element('li', { textContent: comment.text })),
  )
}

async function postComment(bookId, input) {
  if (!tokens) {
    complain('Sign in to comment.')
    return
  }
  const response = await api(`/books/${bookId}/comments`, { method: 'POST', body: { text: input.value } })
  if (response.status !== 201) throw new Error(`the comment was refused (${response.status})`)
  input.value = ''
  say('Comment posted.')
  await showComments(bookId)
}

async function downloadBook(bookId) {
  if (!tokens) {
    complain('Sign in to download.')
    return
  }
  const response = await api(`/books/${bookId}/download`)
  if (response.status === 403) {
    complain('Downloads need books:download: buy a book first.')
    return
  }
  if (!response.ok) throw new Error(`the download was refused (${response.status})`)
  $(`downloaded-${bookId}`).textContent = await response.text()
  say('Downloaded.')
}

/** A (simulated) purchase grants the customer role; a refresh brings it into the token. */
async function buy() {
  const response = await api('/purchases', { method: 'POST' })
  if (!response.ok) throw new Error(`the purchase failed (${response.status})`)
  // A refresh under way may have been asked before the purchase: let it end
  // first, so that the one asked here starts after the purchase.
  await refreshing
  await refresh()
  say(
    tokens.scope.split(' ').includes('books:download')
      ? 'Thank you! Your token now carries books:download.'
      : 'Thank you! The purchase went through, but the new token does not carry books:download yet.',
  )
}

// --- Start ----------------------------------------------------------------

function wire() {
  $('setup-form').addEventListener('submit', (event) => {
    event.preventDefault()
    localStorage.setItem(
      SETTINGS_KEY,
      JSON.stringify({
        issuer: $('issuer').value.trim().replace(/\/$/, ''),
        clientId: $('client-id').value.trim(),
        api: $('api').value.trim(),
      }),
    )
    discovered = undefined
    say('Saved.')
    render()
    showCatalogue().catch((e) => complain(describe(e)))
  })
  $('settings').addEventListener('click', showSetup)
  $('sign-in').addEventListener('click', () => signIn().catch((e) => complain(describe(e))))
  $('sign-out').addEventListener('click', () => signOut().catch((e) => complain(describe(e))))
  $('buy').addEventListener('click', () => buy().catch((e) => complain(describe(e))))
}

async function start() {
  wire()
  if (!settings().clientId) {
    showSetup()
    return
  }
  const currentUrl = new URL(window.location.href)
  if (currentUrl.searchParams.has('code') || currentUrl.searchParams.has('error')) {
    await completeSignIn(currentUrl).catch((e) => complain(`Sign-in failed: ${describe(e)}`))
  } else if (currentUrl.searchParams.has('state')) {
    completeSignOut(currentUrl)
  }
  render()
  await showCatalogue().catch((e) => complain(describe(e)))
}

start()
