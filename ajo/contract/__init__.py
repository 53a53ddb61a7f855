"""Everything ajo knows of the AjoSavings contract: its ABI, events, decoding and view functions."""
