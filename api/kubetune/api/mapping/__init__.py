"""Pure translations between the custom resources and each API family's DTOs."""
