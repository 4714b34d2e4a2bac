"""The console session: sign-in and sign-out, the encrypted credential, read-only sessions and
the way back to sign-in when ByCloud no longer accepts the credential (``request.console``)."""
