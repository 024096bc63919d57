"""An SMTP server for Portcullis's tests, on aiosmtpd.

Started by `portcullis_mail::test_smtp` (Rust). Each accepted message is
written to OUT as NNNN.eml (the raw bytes received) and then NNNN.json
(envelope, whether the session was encrypted, who authenticated); each AUTH
attempt is appended to OUT/auth.jsonl. Prints "READY <port>" once
listening, and serves until killed.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def encrypted(server):
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def write_atomically(path, data):
    with open(path + ".tmp", "wb") as file:
        file.write(data)
    os.replace(path + ".tmp", path)


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = len([name for name in os.listdir(args.out) if name.endswith(".json")])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(part in address for part in self.args.refuse):
            return "550 5.1.1 Mailbox unavailable (the test server refuses it)"
        if any(part in address for part in self.args.defer):
            return "451 4.3.0 Try again later (the test server defers it)"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.args.out, "%04d" % self.count)
        write_atomically(base + ".eml", envelope.original_content)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        meta = {
            "mail_from": envelope.mail_from,
            "recipients": envelope.rcpt_tos,
            "tls": encrypted(server),
            "authenticated_as": login,
        }
        write_atomically(base + ".json", json.dumps(meta).encode())
        return "250 2.0.0 OK: queued as test-%d" % self.count


def authenticator(args):
    def check(server, session, envelope, mechanism, auth_data):
        accepted = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
        with open(os.path.join(args.out, "auth.jsonl"), "a") as log:
            log.write(json.dumps({"login": login, "tls": encrypted(server), "accepted": accepted}) + "\n")
        return AuthResult(success=accepted, handled=False, auth_data=auth_data if accepted else None)

    return check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--security", choices=["plain", "starttls", "implicit"], default="plain")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--refuse", action="append", default=[])
    parser.add_argument("--defer", action="append", default=[])
    args = parser.parse_args()

    context = None
    if args.security != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    handler = Handler(args)

    def factory():
        options = {"enable_SMTPUTF8": True, "hostname": "test-smtp.localhost"}
        if args.security == "starttls":
            options.update(tls_context=context, require_starttls=False)
        if args.user is not None:
            # AUTH is offered even without TLS, so that a client sending
            # credentials in clear would be seen doing it (auth.jsonl).
            options.update(
                authenticator=authenticator(args), auth_required=True, auth_require_tls=False
            )
        return SMTP(handler, **options)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(
            factory,
            host="127.0.0.1",
            port=args.port,
            ssl=context if args.security == "implicit" else None,
        )
    )
    print("READY %d" % server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    sys.exit(main())
