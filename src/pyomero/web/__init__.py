"""HTTP only: parse, call one service, encode with wire, respond."""
