"""The campaign service: the signed-event server, its durable queue and the batch worker that makes leads."""
