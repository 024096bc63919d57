// A relying party nobody here wrote (openid-client) signs a user in through
// Portcullis with a real browser doing the user's part: discovery, PKCE
// S256, sign-up on /signup, consent for a third-party client, the code
// exchange with ID token validation (signature, nonce, audience), userinfo,
// a refresh, a later login on /login, RP-initiated logout, and prompt=none
// answering login_required once the browser session is gone.
//
// The harness runs it once with a first-party public client and once with
// a third-party confidential one (client_secret_basic), labelled "rp".

import assert from 'node:assert/strict'
import { after, before } from 'node:test'

import {
  clickAndWait,
  expectPage,
  freshPage,
  launchBrowser,
  logIn,
  screenshot,
  signUpFromLogin,
} from './lib/browser.mjs'
import { startCallbackServer } from './lib/callback.mjs'
import { PASSWORD, freshEmail, issuer, issuerOrigin } from './lib/context.mjs'
import {
  audiences,
  authorizationRequest,
  checkDiscovery,
  discover,
  exchange,
  oidc,
} from './lib/rp.mjs'
import { step } from './lib/steps.mjs'
import { jwtClaims } from './lib/web.mjs'

const user = { email: freshEmail('rp'), password: PASSWORD, name: 'Ada Lovelace' }

let chromium
let callback
let config
let registered
/** What the flow learnt so far, test by test. */
const state = {}

before(async () => {
  chromium = await launchBrowser()
  callback = await startCallbackServer()
  ;({ config, registered } = await discover('rp'))
})

after(async () => {
  await chromium?.close()
  await callback?.close()
})

/** Consent is asked of third-party clients only, once. */
async function consentIfAsked(page, expected) {
  const onConsent = new URL(page.url()).pathname === '/consent'
  if (!expected) {
    assert.ok(!onConsent, 'a first-party client or a remembered consent is not asked again')
    return
  }
  await expectPage(page, issuerOrigin, '/consent')
  const text = await page.evaluate(() => document.body.innerText)
  assert.ok(text.includes('Partner app'), `the consent page names the client: ${text}`)
  await screenshot(page, 'consent')
  await clickAndWait(page, '#allow')
}

step('discovery lists what a relying party needs', () => {
  checkDiscovery(config.serverMetadata())
})

step('a new user signs up in the browser and the relying party gets validated tokens', async () => {
  const request = await authorizationRequest(config, registered)
  const page = await freshPage(chromium.browser)
  await page.goto(request.url.href)
  await expectPage(page, issuerOrigin, '/login')
  await signUpFromLogin(page, user)
  await consentIfAsked(page, !registered.first_party)
  await expectPage(page, callback.origin, '/callback')
  await screenshot(page, 'callback')
  const landed = new URL(page.url())
  assert.equal(landed.searchParams.get('iss'), issuer, 'RFC 9207: iss on the response')

  // openid-client checks state, iss, the PKCE exchange, the ID token's
  // signature (JWKS), iss, aud, exp, iat and nonce.
  const tokens = await exchange(config, request, landed)
  const claims = tokens.claims()
  assert.equal(claims.iss, issuer)
  assert.deepEqual(audiences(claims), [registered.client_id])
  assert.equal(claims.nonce, request.nonce)
  assert.equal(claims.email, user.email)
  assert.equal(claims.email_verified, false)
  assert.equal(claims.name, user.name)
  assert.equal(typeof claims.auth_time, 'number')
  assert.equal(typeof claims.sid, 'string')
  assert.equal(tokens.token_type.toLowerCase(), 'bearer')
  assert.ok(tokens.scope.split(' ').includes('openid'), `scope: ${tokens.scope}`)
  assert.equal(typeof tokens.refresh_token, 'string', 'offline_access (or a first party) gets a refresh token')
  const access = jwtClaims(tokens.access_token)
  assert.equal(access.sub, claims.sub)
  assert.equal(access.client_id, registered.client_id, 'RFC 9068: client_id in the access token')
  await page.close()
  Object.assign(state, { tokens, sub: claims.sub, authTime: claims.auth_time })
})

step('userinfo answers for the access token: sub, email, email_verified, name', async () => {
  const info = await oidc.fetchUserInfo(config, state.tokens.access_token, state.sub)
  assert.equal(info.sub, state.sub)
  assert.equal(info.email, user.email)
  assert.equal(info.email_verified, false)
  assert.equal(info.name, user.name)
})

step('a refresh gives new tokens for the same user, with the same claims', async () => {
  const refreshed = await oidc.refreshTokenGrant(config, state.tokens.refresh_token)
  assert.notEqual(refreshed.refresh_token, state.tokens.refresh_token, 'the refresh token rotates')
  assert.notEqual(refreshed.access_token, state.tokens.access_token)
  const access = jwtClaims(refreshed.access_token)
  assert.equal(access.sub, state.sub)
  assert.equal(access.client_id, registered.client_id)
  if (refreshed.id_token) {
    const claims = refreshed.claims()
    assert.equal(claims.sub, state.sub, 'OIDC §12.2: the same sub')
    assert.equal(claims.email, user.email)
    assert.equal(claims.name, user.name)
    assert.deepEqual(audiences(claims), [registered.client_id])
  }
  const info = await oidc.fetchUserInfo(config, refreshed.access_token, state.sub)
  assert.deepEqual(
    { sub: info.sub, email: info.email, name: info.name },
    { sub: state.sub, email: user.email, name: user.name },
  )
  state.tokens = refreshed
})

step('later, in a new browser, the user logs in on /login; consent is not asked again', async () => {
  const request = await authorizationRequest(config, registered)
  const page = await freshPage(chromium.browser)
  await page.goto(request.url.href)
  await logIn(page, user)
  await consentIfAsked(page, false)
  await expectPage(page, callback.origin, '/callback')
  await screenshot(page, 'callback-after-login')
  const tokens = await exchange(config, request, page.url())
  const claims = tokens.claims()
  assert.equal(claims.sub, state.sub, 'the same user')
  assert.ok(claims.auth_time >= state.authTime, 'auth_time is this login')
  Object.assign(state, { page, tokens })
})

step('RP-initiated logout ends the browser session and comes back with state', async () => {
  const { page, tokens } = state
  const logoutState = oidc.randomState()
  const url = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: registered.post_logout_redirect_uri,
    state: logoutState,
  })
  await page.goto(url.href)
  const landed = new URL(page.url())
  assert.equal(`${landed.origin}${landed.pathname}`, registered.post_logout_redirect_uri)
  assert.equal(landed.searchParams.get('state'), logoutState)
  await screenshot(page, 'signed-out')
})

step('after logout, prompt=none answers login_required with state and iss', async () => {
  const { page } = state
  const request = await authorizationRequest(config, registered, { prompt: 'none' })
  await page.goto(request.url.href)
  await expectPage(page, callback.origin, '/callback')
  await screenshot(page, 'login-required')
  const landed = new URL(page.url())
  assert.equal(landed.searchParams.get('error'), 'login_required')
  assert.equal(landed.searchParams.get('state'), request.state)
  assert.equal(landed.searchParams.get('iss'), issuer)
  assert.equal(landed.searchParams.get('code'), null)
  await assert.rejects(exchange(config, request, landed), (error) => {
    assert.equal(error.error, 'login_required', `openid-client reports it: ${error}`)
    return true
  })
})
