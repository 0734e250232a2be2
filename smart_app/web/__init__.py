"""The only package that imports Flask: blueprints for launch, checklist, orders and export."""
