// What the Rust harness (tests/services/browser) tells a script, as JSON in
// PORTCULLIS_OIDC_TEST: the issuer (the server's own URL), the password every
// test user gets, the DevTools endpoint of the run's shared Chromium
// (`browser_endpoint`), where screenshots go, the port of the
// script's own HTTP server (redirect URIs point there) and the clients it
// registered with `portcullis client add` ({client_id, client_secret,
// redirect_uri, post_logout_redirect_uri}).

const raw = process.env.PORTCULLIS_OIDC_TEST
if (!raw) {
  console.error(
    'PORTCULLIS_OIDC_TEST is not set: these scripts are run by ' +
      '`cargo test -p portcullis --test services browser::`',
  )
  process.exit(2)
}

export const context = JSON.parse(raw)

/** The issuer, exactly as configured (no trailing slash). */
export const issuer = context.issuer

/** The origin of the issuer, the only one allowed to post its forms. */
export const issuerOrigin = new URL(issuer).origin

/** The password every test user signs up with. */
export const PASSWORD = context.password

/** A client the harness registered, by the label it gave it. */
export function client(label) {
  const registered = context.clients?.[label]
  if (!registered) {
    throw new Error(`no client "${label}" in the harness's settings`)
  }
  return registered
}

let users = 0

/** An email address nobody has used in this run. */
export function freshEmail(who) {
  users += 1
  return `${who}-${users}-${Date.now()}@example.com`
}

/** An absolute URL on the issuer for `path`. */
export function onIssuer(path) {
  return new URL(path, `${issuer}/`).href
}
