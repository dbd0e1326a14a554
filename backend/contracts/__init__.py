"""The API's promises to its clients (the app and the mini-programs), checked by machine."""
