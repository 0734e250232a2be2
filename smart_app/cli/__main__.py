"""`python -m smart_app.cli`: the smart-app command."""

from smart_app.cli import main

main()
