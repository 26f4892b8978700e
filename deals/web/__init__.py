"""The browser pages: partner portal, manager workspace, audit export, forms, page selectors."""
