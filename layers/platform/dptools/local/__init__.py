"""The local stack: moto server as the local AWS, a real Kafka broker, and the template wired onto them."""
