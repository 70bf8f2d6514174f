"""What every app shares and no app owns: the contract's vocabulary (choices, domain, errors),
IP address text (addressing), transactions and retries, bounded reads, quoted table names."""
