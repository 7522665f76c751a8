"""The built-in plugins: each folder is loaded through pluggy like a store's own."""
