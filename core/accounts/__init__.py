"""Accounts: sign-up and log-in by e-mail (django-allauth), the account page, sign-up credits."""
