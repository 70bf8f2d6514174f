"""The Kubernetes admission webhook: AdmissionReview in, the pool services, AdmissionReview out.
It owns no models."""
