"""Direct opportunities (the vendor's own pipeline): services, CSV import, selectors."""
