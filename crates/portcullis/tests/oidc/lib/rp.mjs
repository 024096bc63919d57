// The relying party: openid-client, configured as its documentation says,
// with nothing special for Portcullis. Two settings are the test setup's,
// not the server's: plain http:// (the server runs on 127.0.0.1 without
// TLS here) and signature checks of ID tokens against the JWKS, which
// openid-client leaves off by default for tokens it got over TLS.

import assert from 'node:assert/strict'

import * as oidc from 'openid-client'

import { client, issuer, onIssuer } from './context.mjs'
import { send } from './web.mjs'

/** What a relying party asks for: OpenID Connect, the profile, a refresh token. */
export const SCOPE = 'openid profile email offline_access'

/** Discovery for the registered client `label`: {config, registered}. */
export async function discover(label) {
  const registered = client(label)
  const authentication = registered.client_secret
    ? oidc.ClientSecretBasic(registered.client_secret)
    : oidc.None()
  const config = await oidc.discovery(new URL(issuer), registered.client_id, undefined, authentication, {
    execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
  })
  return { config, registered }
}

/**
 * A new authorization request (PKCE S256, state, nonce) to the client's
 * registered redirect URI; `extra` adds or overrides parameters.
 */
export async function authorizationRequest(config, registered, extra = {}) {
  const codeVerifier = oidc.randomPKCECodeVerifier()
  const parameters = {
    redirect_uri: registered.redirect_uri,
    scope: SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    ...extra,
  }
  for (const [name, value] of Object.entries(parameters)) {
    if (value === undefined) delete parameters[name]
  }
  return {
    url: oidc.buildAuthorizationUrl(config, parameters),
    codeVerifier,
    state: parameters.state,
    nonce: parameters.nonce,
    parameters,
  }
}

/** The code exchange of the authorization response at `callbackUrl`. */
export function exchange(config, request, callbackUrl, checks = {}) {
  return oidc.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
    ...checks,
  })
}

/** Asserts what the contract and OpenID Connect Discovery require of the metadata. */
export function checkDiscovery(metadata) {
  assert.equal(metadata.issuer, issuer)
  for (const endpoint of [
    'authorization_endpoint',
    'token_endpoint',
    'userinfo_endpoint',
    'jwks_uri',
    'end_session_endpoint',
    'revocation_endpoint',
    'introspection_endpoint',
  ]) {
    assert.equal(typeof metadata[endpoint], 'string', `${endpoint} is listed`)
    assert.ok(metadata[endpoint].startsWith(`${issuer}/`), `${endpoint} is on the issuer: ${metadata[endpoint]}`)
  }
  assert.equal(metadata.authorization_endpoint, onIssuer('/authorize'))
  assert.equal(metadata.userinfo_endpoint, onIssuer('/userinfo'))
  assert.equal(metadata.end_session_endpoint, onIssuer('/logout'))
  assert.deepEqual(metadata.response_types_supported, ['code'])
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256'])
  assert.equal(metadata.authorization_response_iss_parameter_supported, true)
  assert.ok(metadata.subject_types_supported?.includes('public'), 'subject_types_supported has public')
  assert.ok(metadata.id_token_signing_alg_values_supported?.includes('RS256'), 'ID tokens may be RS256')
  for (const grant of ['authorization_code', 'refresh_token']) {
    assert.ok(metadata.grant_types_supported?.includes(grant), `grant_types_supported has ${grant}`)
  }
  for (const scope of ['openid', 'profile', 'email', 'offline_access']) {
    assert.ok(metadata.scopes_supported?.includes(scope), `scopes_supported has ${scope}`)
  }
  for (const method of ['client_secret_basic', 'client_secret_post', 'none']) {
    assert.ok(
      metadata.token_endpoint_auth_methods_supported?.includes(method),
      `token_endpoint_auth_methods_supported has ${method}`,
    )
  }
}

/** `aud` as a list, whichever form the token used. */
export function audiences(claims) {
  return Array.isArray(claims.aud) ? claims.aud : [claims.aud]
}

/** `GET /userinfo` with a bearer token, raw (for refusals). */
export function userinfoRequest(accessToken, method = 'GET') {
  return send(onIssuer('/userinfo'), {
    method,
    headers: accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` },
  })
}

export { oidc }
