"""Built-in plugins: registered first, through the same hooks third-party plugins use."""
