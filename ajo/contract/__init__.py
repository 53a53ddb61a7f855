"""What the AjoSavings contract defines, kept apart from the ORM."""
