"""Documents: personalised documents (sport certificates, member cards, letters) in one click."""
