# Flyte documentation example, run against flytecore.
# Source: flyteorg/flytesnacks, examples/data_types_and_io/data_types_and_io/enum_type.py
#         (commit 0ce83e109af4e47ebcc47319e774679516092150)
# Licence: Apache License 2.0 (flytesnacks, Copyright the Flyte authors).
# Modified: only the import lines were changed (flytekit -> flytecore).
from enum import Enum

from flytecore import task, workflow


class Coffee(Enum):
    ESPRESSO = "espresso"
    AMERICANO = "americano"
    LATTE = "latte"
    CAPPUCCINO = "cappucccino"


@task
def take_order(coffee: str) -> Coffee:
    return Coffee(coffee)


@task
def prep_order(coffee_enum: Coffee) -> str:
    return f"Preparing {coffee_enum.value} ..."


@workflow
def coffee_maker(coffee: str) -> str:
    coffee_enum = take_order(coffee=coffee)
    return prep_order(coffee_enum=coffee_enum)


@workflow
def coffee_maker_enum(coffee_enum: Coffee) -> str:
    return prep_order(coffee_enum=coffee_enum)


if __name__ == "__main__":
    print(coffee_maker(coffee="latte"))
    print(coffee_maker_enum(coffee_enum=Coffee.LATTE))
