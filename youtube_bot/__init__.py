"""The YouTube promo bot: catalogue, render, upload, schedule."""
