"""Clinical rules as data (policies, payer profiles, coding tables) and the only code that reads them."""
