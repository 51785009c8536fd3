package journey_test

import (
	"fmt"

	"github.com/overture-cjo/overture/internal/journey"
)

func ExampleParse() {
	_, err := journey.Parse("welcome.yaml", []byte(`id: welcome
name: Welcome
entry:
  trigger: {event: Signed Up, condition: 'event.properties.plan = "pro"'}
start: hello
steps:
  hello: {type: send, channel: email, template: welcome, next: bye}
`))
	fmt.Println(err)
	// Output:
	// welcome.yaml:4:65: entry.trigger.condition: Syntax error: token recognition error at: '= '
	// welcome.yaml:4:67: entry.trigger.condition: Syntax error: extraneous input '"pro"' expecting <EOF>
	// welcome.yaml:7:64: steps.hello.next: no step named "bye"
}
